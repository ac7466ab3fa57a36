"""Storage: SQLModel tables, the database engine, migrations and the repository the coach uses."""
