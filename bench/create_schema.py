"""Build the schema with the models' create_all: the bench's stand-in until the project has a migration."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nexus import create_app  # noqa: E402
from nexus.extensions import db  # noqa: E402

if __name__ == "__main__":
    with create_app().app_context():
        db.create_all()
    print("schema created with db.create_all()")
