"""Browser tests: the API documentation pages driven by headless Chromium, as a person uses them."""
