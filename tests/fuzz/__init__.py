"""Property-based and fuzzed requests (hypothesis): no input makes a 500."""
