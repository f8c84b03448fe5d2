"""Knowledge of the site's addresses: hosts, canonical URLs, the URL shapes of its pages.

The shapes themselves are data in the site profile (``config/sites/jsw.toml``); the functions here
apply them.
"""
