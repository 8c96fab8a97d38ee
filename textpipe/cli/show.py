import click
@click.command('show')
def command() -> None:
    """Not yet built."""

