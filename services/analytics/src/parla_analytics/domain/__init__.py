"""Analytics' pure rules: the audit chain's hash, and the activity log's days, weeks, addresses and ids."""
