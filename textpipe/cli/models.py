import click
@click.command('models')
def command() -> None:
    """Not yet built."""

