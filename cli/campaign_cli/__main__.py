import sys

from campaign_cli.cli import main

sys.exit(main())
