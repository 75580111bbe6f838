from impasto.cli import entry

entry()
