"""What every domain shares: errors, pagination, money, outbox, mail, health."""
