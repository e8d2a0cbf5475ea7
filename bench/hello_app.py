"""A bare Flask app: the ceiling for one request through Flask + gunicorn on this machine."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
