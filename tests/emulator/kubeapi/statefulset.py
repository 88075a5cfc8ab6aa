# The StatefulSet controller (not yet written: StatefulSets get no pods).


class StatefulSetController:
    def sync(self, mgr):
        pass
