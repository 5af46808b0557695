from abseg.cli import main

main()
