"""Mail: a durable outbox filled in the caller's transaction, and a background SMTP sender."""
