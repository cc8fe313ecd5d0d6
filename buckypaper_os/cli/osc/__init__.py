"""The ``openstack confidential ...`` commands (python-openstackclient)."""
