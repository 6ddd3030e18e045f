"""A runner outside Beam, named by its module path, with an option that exists only once this
module is imported: it notes the option's value in a file and runs the pipeline on the
DirectRunner."""

from __future__ import annotations

from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.direct.direct_runner import DirectRunner
from apache_beam.runners.runner import PipelineRunner


class ProbeOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument("--probe_note", help="File the runner writes its own name to.")


class ProbeRunner(PipelineRunner):
    def run_pipeline(self, pipeline, options):
        Path(options.view_as(ProbeOptions).probe_note).write_text(type(self).__name__)
        return DirectRunner().run_pipeline(pipeline, options)
