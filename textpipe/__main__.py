from textpipe.cli.main import main

main()
