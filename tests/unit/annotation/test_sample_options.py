"""``feedback sample`` refuses bad options before it touches any engine, naming the option."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from annotation.sampling import SampleError, SampleRequest, Strategy
from feedback.cli import app


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SampleRequest(queue="", size=5), "--queue"),
        (SampleRequest(queue="q", size=0), "--size: 0 is not between 1 and 100000"),
        (SampleRequest(queue="q", size=5, by="colour"), "--by: 'colour' is not one of feature"),
        (SampleRequest(queue="q", size=5, strategy=Strategy.MIXED, random_share=1.5), "--random-share"),
    ],
)
def test_bad_requests_name_the_option(request_: SampleRequest, message: str) -> None:
    with pytest.raises(SampleError, match=message):
        request_.check()


def test_the_command_answers_bad_options_with_the_reason() -> None:
    runner = CliRunner(env={"COLUMNS": "300"})  # the error box would wrap the line otherwise
    result = runner.invoke(app, ["sample", "--queue", "q", "--size", "5", "--by", "colour"])
    assert result.exit_code == 2
    assert "--by: 'colour' is not one of feature, prompt_version, model_version" in result.output
    result = runner.invoke(app, ["sample", "--queue", "q", "--size", "5", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "--since: 'yesterday' is not an ISO time" in result.output
