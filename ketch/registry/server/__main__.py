import sys

from ketch.registry.server.main import main

sys.exit(main())
