"""Who is who: organisations, their users and API keys, passwords and tokens, and turning credentials
into a Principal. One module per concept; callers import the one they need."""
