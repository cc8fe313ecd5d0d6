"""Intel TDX quote verification (Quote v4/v5, DCAP ECDSA P-256).

``abi`` parses quotes, ``pck`` the PCK certificate's SGX extensions,
``verify`` checks signatures and the PCK chain, ``collateral`` checks Intel
PCS v4 collateral and grades the TCB, ``validate`` appraises against a
policy and ``tee`` ties them together as the ``tdx`` plugin.
"""
