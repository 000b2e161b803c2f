import warnings

import pytest
import torch

# Tests run on the CPU everywhere; CUDA agreement tests run where a GPU exists.
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

warnings.filterwarnings("ignore", message=".*front-end bundle.*missing.*")
