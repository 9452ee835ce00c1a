"""Stand-in for modules/shared_state.py (v1.10.1): `State` with `interrupted`, `skipped`,
`stopping_generation`, `job`, `job_no`, `job_count`, `sampling_step`, `textinfo`,
`interrupt()`, `skip()`, `nextjob()`, `begin(job="(unknown)")`, `end()`."""


class State:
    skipped = False
    interrupted = False
    stopping_generation = False
    job = ""
    job_no = 0
    job_count = 0
    sampling_step = 0
    textinfo = None

    def interrupt(self):
        self.interrupted = True

    def skip(self):
        self.skipped = True

    def nextjob(self):
        self.job_no += 1
        self.sampling_step = 0

    def begin(self, job: str = "(unknown)"):
        self.interrupted = self.skipped = self.stopping_generation = False
        self.job, self.job_no, self.job_count, self.textinfo = job, 0, 0, None

    def end(self):
        self.job = ""
        self.job_count = 0
