"""Commands of ``openstack confidential``, API version 1."""
