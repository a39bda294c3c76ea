"""taskapp's tests, in tiers: unit, sql, api, system."""
