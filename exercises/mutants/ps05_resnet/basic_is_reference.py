# mutant: subclasses the course's block
# replaces: basic_block_solution
# loses: basic_block_test, basic_block_test_hidden
# message: BasicBlock must be your own code
from cnncourse.models.resnet import BasicBlock as CourseBlock


class BasicBlock(CourseBlock):
    expansion = 1
