"""CSV import (dry run, then a background task with progress) and CSV exports."""
