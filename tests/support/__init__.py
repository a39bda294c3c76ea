"""What the tests share: users and tokens, acting as a user in SQL, served processes and receivers."""
