from tunesmith.cli import console

console()
