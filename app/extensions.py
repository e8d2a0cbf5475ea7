"""Extensions, created unbound and attached to the app in ``create_app``."""

from flask_caching import Cache
from flask_cors import CORS
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.core.csrf import ShopCSRFProtect
from app.db import Base, ShopSession
from app.ratelimit import limiter_key

db = SQLAlchemy(model_class=Base, session_options={"class_": ShopSession})
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = ShopCSRFProtect()
limiter = Limiter(key_func=limiter_key)
htmx = HTMX()
cache = Cache()
cors = CORS()  # bound only when API_CORS_ORIGINS lists origins
