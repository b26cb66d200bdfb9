"""The spec's starting point, kept on purpose to show what naive order code leaves behind."""
