"""Who is calling: bearer tokens checked (bearer), the keys that verify them (token_keys), tokens
verified moments ago (token_cache), tokens issued (issuing), and the identity proof with the one
statement that makes a transaction act as a user (proof)."""
