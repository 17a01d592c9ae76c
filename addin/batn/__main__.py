"""`python -m batn …`: the same command as `batn …` (for machines where the scripts folder is not on PATH)."""
from .cli import app

app(prog_name="batn")
