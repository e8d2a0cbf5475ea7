"""Protocol fakes for tests: small stateful servers that speak a real provider API."""
