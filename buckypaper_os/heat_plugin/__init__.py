"""Heat resource plugins of buckypaper-os.

Heat loads third-party resources only from its ``plugin_dirs``; add this
package's directory there (``python3 -c 'import buckypaper_os.heat_plugin
as p; print(p.__path__[0])'``). Every module in it has a
``resource_mapping()``. Only heat-engine imports these modules.
"""
