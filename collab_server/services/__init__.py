"""Operations on scores shared by REST, the CLI, the worker and agents."""
