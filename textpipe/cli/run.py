import click
@click.command('run')
def command() -> None:
    """Not yet built."""

