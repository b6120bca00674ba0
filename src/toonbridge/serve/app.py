"""The web app: a page for people and a REST API for programs, both over :mod:`toonbridge.api`.

    GET  /            the page (upload or webcam snapshot, style and direction, before/after, download)
    GET  /healthz     {"status": "ok", ...}
    GET  /v1/styles   the styles (name, title for menus, description), the directions and groups of each
    POST /v1/cartoonize, /v1/realize   multipart: ``image`` file, ``style`` field (default bitmoji), ``group``
                      field (group styles: a branch name or auto, the default), ``strength`` (0..1, default 1),
                      ``largest`` (only the largest face), ``whole_photo`` (whitebox styles: the entire picture);
                      realize with psp styles: ``variants`` (1-8 realistic faces per cartoon, JSON only) and ``seed``
                      -> image/png of the whole picture with every face replaced;
                      ``?format=json`` -> the whole picture and per-face boxes, landmarks, groups and crops (base64 PNG)
    GET  /v1/examples/{style}.png   the bundled sample photo cartoonized by the style (made once, then cached)
    GET  /docs        OpenAPI

Protection: uploads over ``max_upload_bytes`` get 413 before the body is parsed (by Content-Length) or after (by
size); images over ``max_pixels`` get 413 from the header, before decoding; at most ``workers`` translations run
while ``queue`` more wait, and any request beyond gets 503 with Retry-After; a request that takes longer than
``timeout_s`` gets 504. Every error a client can cause is a 4xx with ``{"error": {"code", "message"}}``.
Uploads are read into memory (multipart spools large parts to the system temp dir only); nothing else is written.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
import base64
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from toonbridge.errors import FaceTooSmall, ImageTooLarge, InvalidImage, NoFaceFound, ToonbridgeError, UnknownName
from toonbridge.faces.align import MIN_FACE_PX
from toonbridge.faces.hair import HAIR_COLOURS

DIRECTION_NAMES = ("cartoonize", "realize")


@dataclass(frozen=True)
class ServeConfig:
    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 25_000_000
    workers: int = 1  # translations running at once (each uses torch's threads)
    queue: int = 16  # translations allowed to wait for a worker
    timeout_s: float = 60.0
    precision: str = "fp32"
    backend: str = "auto"
    preload: bool = True  # load every style's networks at start-up, not on the first request

    def __post_init__(self):
        if self.workers < 1 or self.queue < 0:
            raise ValueError("workers must be at least 1 and queue at least 0")
        if self.max_upload_bytes < 1 or self.max_pixels < 1 or self.timeout_s <= 0:
            raise ValueError("upload size, pixel count and timeout limits must be positive")


class ClientError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class TranslationPool:
    """A fixed number of worker threads and a bounded number of waiting requests; the rest are refused."""

    def __init__(self, workers: int, queue: int):
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="toonbridge")
        self.slots = threading.BoundedSemaphore(workers + queue)

    async def run(self, function, timeout_s: float):
        if not self.slots.acquire(blocking=False):
            raise ClientError(503, "busy", "the server is busy; try again shortly", {"Retry-After": "2"})

        def work():
            try:
                return function()
            finally:
                self.slots.release()  # only when the work is really done, even after a timeout

        future = asyncio.get_running_loop().run_in_executor(self.executor, work)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            raise ClientError(504, "timeout", f"the translation took longer than {timeout_s:g} s") from None

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class StyleCache:
    """Loaded styles, shared by the workers (loading is locked; inference is thread-safe)."""

    def __init__(self, config: ServeConfig):
        from toonbridge.api import styles

        self.config = config
        self.infos = {info.name: info for info in styles()}
        self.loaded: dict = {}
        self.lock = threading.Lock()

    def get(self, name: str, hair: str | None = None):
        """The style, loaded once per hair colour asked of it (twingan styles; the colour is in its norms)."""
        from toonbridge.api import Style

        if name not in self.infos:
            raise ClientError(422, "unknown_style", f"unknown style {name!r}; known: {', '.join(self.infos)}")
        if hair and not self.infos[name].views:
            raise ClientError(422, "invalid_request", f"style {name!r} cannot choose a hair colour (the twingan styles can)")
        if hair and hair not in HAIR_COLOURS:
            raise ClientError(422, "invalid_request", f"unknown hair colour {hair!r}; known: {', '.join(HAIR_COLOURS)}")
        key = (name, hair or None)
        with self.lock:
            if key not in self.loaded:
                self.loaded[key] = Style(self.infos[name], precision=self.config.precision, backend=self.config.backend, hair=hair or None)
            return self.loaded[key]

    def preload(self) -> None:
        from toonbridge.api import DIRECTIONS

        for name, info in self.infos.items():
            style = self.get(name)
            for direction in info.directions:
                style.generator(direction)
            for role in info.networks:
                if role not in DIRECTIONS.values():
                    style.network(role)


MAX_VARIANTS = 8  # realistic faces per cartoon in one request (each is a generator run)


def create_app(config: ServeConfig = ServeConfig()):
    cache = StyleCache(config)
    pool = TranslationPool(config.workers, config.queue)

    @asynccontextmanager
    async def lifespan(_app):
        if config.preload:
            await asyncio.get_running_loop().run_in_executor(None, cache.preload)
        yield
        pool.shutdown()

    app = FastAPI(title="toonbridge", summary="Face photos to cartoon faces and back.", lifespan=lifespan)

    @app.exception_handler(ClientError)
    async def client_error(_request, error: ClientError):
        return _error_response(error.status, error.code, error.message, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, error: StarletteHTTPException):
        # Unknown routes and wrong methods answer in the documented {"error": {code, message}} shape too.
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _error_response(error.status_code, codes.get(error.status_code, "http_error"), str(error.detail), error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request, error: RequestValidationError):
        fields = ", ".join(".".join(str(p) for p in item["loc"][1:]) or "request" for item in error.errors())
        return _error_response(422, "invalid_request", f"missing or invalid field(s): {fields}")

    @app.middleware("http")
    async def upload_limit(request: Request, call_next):
        declared = request.headers.get("content-length")
        if request.method == "POST" and declared and declared.isdigit() and int(declared) > config.max_upload_bytes + 64 * 1024:
            return _error_response(413, "upload_too_large", _too_large_message(config))
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return resources.files("toonbridge.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "styles": list(cache.infos), "workers": config.workers, "queue": config.queue}

    @app.get("/v1/styles")
    async def list_styles():
        return {"styles": [{"name": info.name, "title": info.title, "description": info.description, "size": info.size,
                            "directions": info.directions, "groups": info.group_names, "whole_photo": info.whole_photo,
                            "variants": cache.get(info.name).has_variants if "realize" in info.directions else False,
                            "hair_colours": list(HAIR_COLOURS) if info.views else []}
                           for info in cache.infos.values()]}

    examples: dict[str, bytes] = {}

    @app.get("/v1/examples/{style}.png", responses={200: {"content": {"image/png": {}}}})
    async def example(style: str):
        """The bundled sample photo cartoonized by ``style`` (made on first request, then kept)."""
        chosen = cache.get(style)
        if "cartoonize" not in chosen.info.directions:
            raise ClientError(404, "not_found", f"style {style!r} has no cartoonize example")
        if style not in examples:
            sample = resources.files("toonbridge").joinpath("assets/astronaut.jpg").read_bytes()
            result = await pool.run(lambda: _translate(chosen, sample, "cartoonize", "auto", config.max_pixels), config.timeout_s)
            examples[style] = _png(result.image)
        return Response(examples[style], media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    async def _upload(image: UploadFile) -> bytes:
        data = await image.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            raise ClientError(413, "upload_too_large", _too_large_message(config))
        if not data:
            raise ClientError(422, "invalid_image", "the uploaded image is empty")
        return data

    async def translate(direction: str, image: UploadFile, style: str, group: str, response_format: str,
                        strength: float = 1.0, largest: bool = False, min_face: float = MIN_FACE_PX, whole_photo: bool = False,
                        hair: str = ""):
        if response_format not in ("png", "json"):
            raise ClientError(422, "invalid_request", "format must be png or json")
        if not 0 <= strength <= 1:
            raise ClientError(422, "invalid_request", f"strength must be between 0 and 1, not {strength}")
        if not 0 <= min_face <= 10_000:
            raise ClientError(422, "invalid_request", f"min_face must be between 0 and 10000 pixels, not {min_face}")
        data = await _upload(image)
        chosen = cache.get(style, hair)
        if direction not in chosen.info.directions:
            raise ClientError(422, "unsupported_direction", f"style {style!r} cannot {direction}")
        try:
            chosen.route([], direction, group)
        except ToonbridgeError as error:
            raise ClientError(422, "unknown_group", str(error)) from None
        if whole_photo and not chosen.info.whole_photo:
            raise ClientError(422, "unsupported_direction", f"style {style!r} translates faces only; whole_photo needs a whitebox style")
        result = await pool.run(lambda: _translate(chosen, data, direction, group, config.max_pixels, strength, largest, min_face,
                                                   whole_photo), config.timeout_s)
        if response_format == "json":
            return _json_result(style, direction, result)
        return Response(_png(result.image), media_type="image/png")

    @app.post("/v1/cartoonize", responses={200: {"content": {"image/png": {}}}})
    async def cartoonize(image: UploadFile = File(...), style: str = Form("bitmoji"), group: str = Form("auto"),
                         strength: float = Form(1.0), largest: bool = Form(False), min_face: float = Form(MIN_FACE_PX),
                         whole_photo: bool = Form(False), hair: str = Form(""),
                         format: str = Query("png", description="png or json")):
        """The photo with every face turned into a cartoon face (PNG), or with per-face results (JSON). Faces
        narrower than ``min_face`` pixels are left as they are (JSON: ``skipped``). ``whole_photo`` (whitebox
        styles): the entire picture cartoonized, no face search (JSON: no faces). ``hair`` (twingan styles): one of
        the style's ``hair_colours``."""
        return await translate("cartoonize", image, style, group, format, strength, largest, min_face, whole_photo, hair)

    @app.post("/v1/realize", responses={200: {"content": {"image/png": {}}}})
    async def realize(image: UploadFile = File(...), style: str = Form("bitmoji"), group: str = Form("auto"),
                      strength: float = Form(1.0), variants: int = Form(0), seed: int = Form(0), hair: str = Form(""),
                      format: str = Query("png", description="png or json")):
        """The cartoon face turned into a realistic one (PNG), or with per-face results (JSON). ``variants`` (psp
        styles, JSON only): that many different realistic faces, the same ones for the same ``seed``. ``hair``
        (twingan styles): one of the style's ``hair_colours``."""
        if not variants:
            return await translate("realize", image, style, group, format, strength, hair=hair)
        if not 1 <= variants <= MAX_VARIANTS or seed < 0:
            raise ClientError(422, "invalid_request", f"variants must be 1 to {MAX_VARIANTS} and seed at least 0")
        if format != "json":
            raise ClientError(422, "invalid_request", "variants come back as JSON: add ?format=json")
        chosen = cache.get(style)
        if "realize" not in chosen.info.directions or not chosen.has_variants:
            raise ClientError(422, "unsupported_direction", f"style {style!r} draws one face per cartoon; variants need psp or psp-anime")
        data = await _upload(image)
        drawn = await pool.run(lambda: _guarded(lambda: chosen.variants(_image(data, config.max_pixels), variants, seed=seed)),
                               config.timeout_s)
        encoded = [base64.b64encode(_png(picture)).decode() for picture in drawn]
        return {"style": style, "direction": "realize", "image": encoded[0], "variants": encoded, "seed": seed, "faces": [], "skipped": []}

    return app


def _translate(style, data: bytes, direction: str, group: str, max_pixels: int, strength: float = 1.0, largest: bool = False,
               min_face: float = MIN_FACE_PX, whole_photo: bool = False):
    from toonbridge.api import Translation

    def run():
        image = _image(data, max_pixels)
        if whole_photo:
            return Translation(style.cartoonize_whole(image, strength=strength))
        return style.translate(image, direction, group=group, strength=strength, largest_face=largest, min_face=min_face)

    return _guarded(run)


def _image(data: bytes, max_pixels: int):
    from toonbridge.imageio import load_image

    return load_image(data, max_pixels=max_pixels)


def _guarded(work):
    """``work()``, with every error a client can cause turned into its 4xx."""
    try:
        return work()
    except ImageTooLarge as error:
        raise ClientError(413, "image_too_large", str(error)) from None
    except InvalidImage as error:
        raise ClientError(422, "invalid_image", str(error)) from None
    except (NoFaceFound, FaceTooSmall) as error:
        raise ClientError(422, "no_face", str(error)) from None
    except (UnknownName, ToonbridgeError) as error:
        raise ClientError(422, "bad_input", str(error)) from None


def _json_result(style: str, direction: str, result) -> dict:
    return {"style": style, "direction": direction, "image": base64.b64encode(_png(result.image)).decode(), "faces": [
        {"box": face.box, "landmarks5": face.landmarks5, "group": face.group, "note": face.note,
         "aligned": base64.b64encode(_png(face.aligned)).decode(), "output": base64.b64encode(_png(face.output)).decode()}
        for face in result.faces], "skipped": [{"box": face.box, "note": face.note} for face in result.skipped]}


def _png(image) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _too_large_message(config: ServeConfig) -> str:
    return f"upload larger than {config.max_upload_bytes / 2**20:g} MiB"


def _error_response(status: int, code: str, message: str, headers: dict | None = None):
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
