import click
@click.command('train')
def command() -> None:
    """Not yet built."""

