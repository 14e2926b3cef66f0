import sys

from app.portusctl.cli import main

sys.exit(main())
