"""buckypaper-os: confidential computing for OpenStack."""
