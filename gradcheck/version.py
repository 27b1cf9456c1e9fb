"""gradcheck's version, one place for the package and the CLI."""

VERSION = "0.1.0"
