"""AMD SEV-SNP: parse (:mod:`.abi`), verify (:mod:`.verify`) and appraise
(:mod:`.validate`) attestation reports; :mod:`.tee` is the plugin."""
