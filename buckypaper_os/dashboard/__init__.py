"""Horizon plugin: confidential computing in the OpenStack dashboard.

Enabled through Horizon's ``enabled/`` files (:mod:`.enabled`, see
``doc/dashboard.md``). Every page reads Nitride's authenticated HTTP API
with the signed-in user's token (:mod:`.api`); panels are shown by the
same oslo.policy rules the API enforces (:mod:`.policy`).
"""
