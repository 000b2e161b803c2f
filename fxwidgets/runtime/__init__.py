"""The bridge between computations and views: worker-thread jobs, coalesced streaming, RPC with ids."""

from .coalesce import Coalescer
from .jobs import Job, JobCancelled, when_finished
from .rpc import RpcServer

__all__ = ["Coalescer", "Job", "JobCancelled", "RpcServer", "when_finished"]
