import click
@click.command('report')
def command() -> None:
    """Not yet built."""

