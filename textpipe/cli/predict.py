import click
@click.command('predict')
def command() -> None:
    """Not yet built."""

