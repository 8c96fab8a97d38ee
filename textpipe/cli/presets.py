import click
@click.command('presets')
def command() -> None:
    """Not yet built."""

