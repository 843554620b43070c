"""LTI 1.3 adapter: OIDC login, launch validation, keys, deep linking, registration, NRPS."""
