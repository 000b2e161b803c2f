"""PixelAffinity: images (or frames) side by side; a hovered location's affinity map is overlaid on every image.

Where the hover is computed: the view needs one row of the (B·h·w) x (B·h·w) cosine affinity per hover. When
the unit-norm location features fit ``browser_max_bytes`` (default 8 MiB as float32, the size of one message,
which is also a row of at most ~2M multiply-adds per hover at 512 channels), they are shipped once and the
browser computes the row itself (no round trip: the overlay follows the mouse). Otherwise each hover asks the
kernel by RPC (on the features' device, GPU when they are there); the newest hover supersedes older ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import traitlets

from ..compute.dense import (
    as_locations,
    consecutive_matches,
    label_noise,
    principal_colours,
    propagate,
    unit_locations,
)
from ..runtime.limits import BROWSER_MAX_BYTES
from .base import (ColormapName, ColormapWidget, FiniteFloat, bundle, check_choice_of, check_cmap, check_int,
                   check_location, check_number, new_figure)

#: Longest side of an image as shipped (display pixels); larger images are downsampled once.
MAX_IMAGE_SIDE = 320

MODES = ("affinity", "labels", "propagated", "noisy")


def _images_rgba(images: Any, n: int) -> np.ndarray:
    t = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    t = t.detach().cpu()
    if t.ndim == 3:  # grey (B, H, W)
        t = t[:, None]
    if t.ndim != 4:
        raise ValueError(f"images must be (B, 3, H, W), (B, H, W, 3) or (B, H, W), got shape {tuple(t.shape)}")
    if t.shape[-1] in (1, 3, 4) and t.shape[1] not in (1, 3, 4):
        t = t.permute(0, 3, 1, 2)
    if t.shape[0] != n:
        raise ValueError(f"images has {t.shape[0]} images but the features have {n}")
    if t.shape[1] not in (1, 3, 4):
        raise ValueError(f"images must have 1, 3 or 4 channels, got shape {tuple(t.shape)}")
    if t.dtype == torch.uint8:
        t = t.float() / 255.0
    else:
        t = t.float()
        if not bool(torch.isfinite(t).all()):
            raise ValueError("images has non-finite values")
        if float(t.max()) > 1.0 + 1e-6 or float(t.min()) < -1e-6:
            raise ValueError("float images must be in [0, 1] (or pass uint8 in 0..255)")
    t = t[:, :3] if t.shape[1] >= 3 else t.expand(-1, 3, -1, -1)
    h, w = t.shape[2:]
    s = MAX_IMAGE_SIDE / max(h, w)
    if s < 1:
        t = torch.nn.functional.interpolate(t, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area")
    rgba = torch.cat([t, torch.ones_like(t[:, :1])], 1).permute(0, 2, 3, 1)
    return (rgba.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _label_grid(labels: Any, b: int, grid: tuple[int, int], name: str) -> torch.Tensor:
    t = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
    if t.ndim != 3 or t.shape[0] != b:
        raise ValueError(f"{name} must be (B, h, w) or (B, H, W) integer maps for the {b} images, got {tuple(t.shape)}")
    if t.is_floating_point() and not bool((t == t.round()).all()):
        raise ValueError(f"{name} must hold integer class ids")
    t = t.long()
    if bool((t < 0).any()) or int(t.max()) > 254:
        raise ValueError(f"{name} class ids must be in 0..254")
    if tuple(t.shape[1:]) != grid:  # image resolution: nearest-neighbour down to the feature grid
        t = torch.nn.functional.interpolate(t[:, None].float(), size=grid, mode="nearest")[:, 0].long()
    return t


class PixelAffinity(ColormapWidget):
    """Hover (or click) a location of any image (or a token of any sentence, for (B, T, D) features with
    ``tokens=``): its cosine affinity to every location of every image is shown
    over the images. Mutual nearest neighbours between consecutive images are drawn as lines. With ``labels``
    (one class map per image/frame), the view also shows each frame's labels propagated from the previous frame
    and the temporal noisy-label score (see :func:`fxwidgets.propagate`, :func:`fxwidgets.label_noise`).

    Parameters
    ----------
    features:
        (B, C, h, w) feature maps, or (B, T, D) token features together with ``tokens``.
    images:
        (B, 3, H, W) floats in [0, 1], (B, H, W, 3) uint8 or (B, H, W) grey; any resolution (the feature grid is
        stretched over the image). Default: the features' first three principal components as false colour.
    labels:
        (B, h, w) or (B, H, W) integer class maps (one per frame): adds the label, propagated and noisy overlays.
    tokens:
        B lists of T strings for token features (``''`` hides a padding position); inserted as text.
    temperature, threshold:
        Initial display controls (overlay ``exp((a - max a) / temperature)``, hidden where ``a < threshold``);
        ``temperature`` and ``k`` are also those of the label propagation, computed once here.
    path:
        ``"auto"`` (browser when the float32 unit features fit ``browser_max_bytes``), ``"browser"`` or
        ``"kernel"``; the choice and its reason are in :attr:`path` / :attr:`path_reason`.
    max_matches:
        Mutual-NN lines per pair of consecutive images (the strongest by cosine).
    """

    _esm = bundle("pixel_affinity")

    page_writable = frozenset({"location", "temperature", "threshold", "mode", "show_matches", "cmap"})

    n_images = traitlets.Int(0).tag(sync=True)
    grid = traitlets.List(traitlets.Int(), [0, 0]).tag(sync=True)
    image_shape = traitlets.List(traitlets.Int(), [0, 0]).tag(sync=True)
    path = traitlets.Unicode("browser").tag(sync=True)
    path_reason = traitlets.Unicode("").tag(sync=True)
    temperature = FiniteFloat(0.1, low=0.0, open_low=True).tag(sync=True)
    #: cosine below which the overlay is hidden (-1 shows everything)
    threshold = FiniteFloat(-1.0, low=-1.0, high=1.0).tag(sync=True)
    mode = traitlets.Unicode("affinity").tag(sync=True)
    modes = traitlets.List(traitlets.Unicode(), ["affinity"]).tag(sync=True)
    show_matches = traitlets.Bool(True).tag(sync=True)
    n_matches = traitlets.Int(0).tag(sync=True)
    cmap = ColormapName("magma").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    captions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: for (B, T, D) token features: the B sentences' tokens (inserted in the page as text)
    tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    #: [b, i, j] of the clicked (pinned) location, or [] (the view writes it)
    location = traitlets.List(traitlets.Int(), []).tag(sync=True)

    def __init__(self, features: Any, *, images: Any = None, labels: Any = None, tokens: Any = None, captions: Any = None,
                 temperature: float = 0.1, threshold: float = -1.0, path: str = "auto", max_matches: int = 64,
                 k: int = 10, browser_max_bytes: int = BROWSER_MAX_BYTES, title: str = "", cmap: Any = "magma") -> None:
        check_cmap(cmap, "cmap")
        if (features.is_complex() if isinstance(features, torch.Tensor) else np.iscomplexobj(features)):
            raise TypeError("features must be real numbers, got complex values (take .real, .abs() or stack both)")
        path = check_choice_of(path, "path", ("auto", "browser", "kernel"))
        temperature = check_number(temperature, "temperature", low=0.0, open_low=True)
        threshold = check_number(threshold, "threshold", low=-1.0, high=1.0)
        max_matches = check_int(max_matches, "max_matches", low=0)
        k = check_int(k, "k", low=1)
        browser_max_bytes = check_int(browser_max_bytes, "browser_max_bytes", low=0)
        locs, grid = as_locations(features, "features")
        b, L, d = locs.shape
        token_rows: list[list[str]] = []
        if grid[0] == 1 and np.ndim(features) == 3:  # (B, T, D) token features: sentences instead of images
            if tokens is None:
                raise ValueError("(B, T, D) token features need tokens= (B lists of T strings; '' marks padding)")
            token_rows = [[str(t) for t in row] for row in tokens]
            if len(token_rows) != b or any(len(r) != L for r in token_rows):
                raise ValueError(f"tokens must be {b} lists of {L} strings (one per token feature), got "
                                 f"{[len(r) for r in token_rows]}")
            if images is not None or labels is not None:
                raise ValueError("images= and labels= apply to feature maps, not to token features")
        elif tokens is not None:
            raise ValueError("tokens= applies to (B, T, D) token features")
        self._unit = unit_locations(locs).reshape(b * L, d)
        nbytes = b * L * d * 4
        device = str(locs.device)
        if path == "auto":
            path = "browser" if nbytes <= browser_max_bytes else "kernel"
        size = f"{b}×{L} locations × {d} channels = {nbytes / 2**20:.2f} MiB as float32"
        if path == "browser":
            reason = (f"browser: the unit-norm features ({size}) fit the {browser_max_bytes / 2**20:g} MiB budget; "
                      f"shipped once, each hover is {b * L} dot products in the page (no round trip)")
        else:
            reason = (f"kernel: the features ({size}) exceed the {browser_max_bytes / 2**20:g} MiB budget for the "
                      f"browser" if nbytes > browser_max_bytes else f"kernel: requested ({size})")
            reason += f"; each hover asks the kernel for one row by RPC, computed on {device}"
        if token_rows:
            rgba = np.zeros((b, 1, 1, 4), dtype=np.uint8)
        elif images is None:
            rgba = _images_rgba(principal_colours(locs, grid), b)
        else:
            rgba = _images_rgba(images, b)
        self._rgba = rgba
        # mutual nearest neighbours between consecutive images, best first
        self._matches, self._match_scores = consecutive_matches(locs, grid, max_matches)
        modes = ["affinity"]
        self._maps: dict[str, np.ndarray] = {}
        self.propagation_params: dict = {}
        if labels is not None:
            lab = _label_grid(labels, b, grid, "labels")
            fmap = locs.reshape(b, grid[0], grid[1], d).permute(0, 3, 1, 2)
            prop = [lab[0]]
            noise = [torch.zeros(grid)]
            for t in range(1, b):
                n_cls = int(lab.max()) + 1
                pr = propagate(fmap[t - 1], fmap[t], lab[t - 1], k=min(k, L), temperature=temperature, n_classes=n_cls)
                prop.append(pr.labels.cpu())
                nz = label_noise(fmap[t - 1], fmap[t], lab[t - 1], lab[t], k=min(k, L), temperature=temperature)
                noise.append(nz.score.cpu())
                self.propagation_params = pr.params
            self._maps = {"labels": lab.cpu().numpy().astype(np.uint8),
                          "propagated": torch.stack(prop).numpy().astype(np.uint8),
                          "noisy": (torch.stack(noise).clamp(0, 1) * 255).round().numpy().astype(np.uint8)}
            self.noise_scores = torch.stack(noise)
            modes += ["labels", "propagated", "noisy"]
        caps = [] if captions is None else [str(c) for c in captions]
        if caps and len(caps) != b:
            raise ValueError(f"captions has {len(caps)} entries for {b} images")
        super().__init__(n_images=b, grid=list(grid), image_shape=list(rgba.shape[1:3]), path=path,
                         path_reason=reason, temperature=float(temperature), threshold=float(threshold),
                         modes=modes, n_matches=int(self._matches.shape[0]), title=title, captions=caps,
                         tokens=token_rows, cmap=cmap)
        self.status, self.progress = "done", 1.0
        self.rows_served = 0
        self.rpc.register("init", self._rpc_init)
        self.rpc.register("row", self._rpc_row)

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        if proposal["value"] not in self.modes:
            raise traitlets.TraitError(f"mode must be one of {', '.join(self.modes)}; got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("location")
    def _valid_location(self, proposal: Any) -> list[int]:
        h, w = self.grid
        try:
            return check_location(proposal["value"], "location", [self.n_images, h, w], ["b", "i", "j"])
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(str(exc)) from None

    # -- requests from the view --------------------------------------------------------------------
    def _rpc_init(self, _args: dict) -> dict:
        out: dict = {"images": self._rgba, "matches": self._matches.numpy(), "scores": self._match_scores.numpy()}
        if self.path == "browser":
            out["features"] = self._unit.to("cpu", torch.float32).numpy()
        for k, v in self._maps.items():
            out[k] = v
        return out

    def _check_loc(self, b, i, j) -> int:
        h, w = self.grid
        for name, v, lim in (("b", b, self.n_images), ("i", i, h), ("j", j, w)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < lim:
                raise ValueError(f"{name} must be an integer in 0..{lim - 1}, got {v!r}")
        return (b * h + i) * w + j

    def _rpc_row(self, args: dict) -> dict:
        r = self._check_loc(args.get("b"), args.get("i"), args.get("j"))
        self.rows_served += 1
        return {"b": args["b"], "i": args["i"], "j": args["j"], "values": self.row(r)}

    # -- Python side -------------------------------------------------------------------------------
    def row(self, r: int) -> np.ndarray:
        """Cosine affinity of flat location ``r`` with every location: (B, h, w)."""
        h, w = self.grid
        return (self._unit @ self._unit[r]).to("cpu", torch.float32).reshape(self.n_images, h, w).numpy()

    def affinity_map(self, b: int, i: int, j: int) -> np.ndarray:
        """What the overlay shows for location (b, i, j) before temperature/threshold: (B, h, w) cosines."""
        return self.row(self._check_loc(b, i, j))

    def peak_of(self, b: int, i: int, j: int) -> list[list[int]]:
        """For each image, the [image, row, col] of the location most similar to (b, i, j)."""
        a = self.affinity_map(b, i, j)
        w = self.grid[1]
        return [[t, int(a[t].argmax()) // w, int(a[t].argmax()) % w] for t in range(self.n_images)]

    @property
    def matches(self) -> np.ndarray:
        """Mutual-NN correspondences drawn as lines: rows of (b1, i1, j1, b2, i2, j2), best first per pair."""
        return self._matches.numpy()

    # -- pictures and standalone pages ---------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        b = self.n_images
        fig, _ = new_figure(2.6 * b, 2.8)
        fig.clear()
        axes = fig.subplots(1, b, squeeze=False)[0]
        for t, ax in enumerate(axes):
            if self.tokens:
                ax.text(0.02, 0.5, " ".join(tok for tok in self.tokens[t] if tok), wrap=True, va="center", fontsize=8)
            else:
                ax.imshow(self._rgba[t])
            ax.set_axis_off()
            ax.set_title(self.captions[t] if self.captions else f"{'sentence' if self.tokens else 'image'} {t + 1}",
                         fontsize=9)
        if self.title:
            fig.suptitle(self.title)
        return fig

    def _standalone(self, page: Any) -> None:
        page.answer("init", {}, self._rpc_init({}))
        if self.path == "kernel":
            page.omit("the similarity map under the pointer (the features are too large to ship)")

