# The Job controller (not yet written: Jobs get no pods).


class JobController:
    def sync(self, mgr):
        pass
