# `coughkit train`: metrics, augmentation and plots (unit), one optimisation step against
# PyTorch's (tools/reference/train_step.py, which fails, never skips, without torch), and
# whole runs of the program on a small synthetic corpus.
# LibTorch's imported targets (torch, torch_cpu) are directory-scoped: coughkit_training's
# usage requirements name them, so they must be found here too.
if(NOT TARGET torch)
  find_package(Torch QUIET REQUIRED)
endif()
set(COUGHKIT_TRAIN_STEP_DIR ${COUGHKIT_TESTDATA_DIR}/train_step)
add_test(NAME generate_train_step_reference
  COMMAND ${COUGHKIT_REFERENCE_PYTHON} ${CMAKE_SOURCE_DIR}/tools/reference/train_step.py step
          --out ${COUGHKIT_TRAIN_STEP_DIR} --threads 2)
set_tests_properties(generate_train_step_reference PROPERTIES FIXTURES_SETUP train_step_reference TIMEOUT 300)

add_library(coughkit_trainer_test_support INTERFACE)
target_compile_definitions(coughkit_trainer_test_support INTERFACE
  COUGHKIT_TRAIN_STEP_DIR="${COUGHKIT_TRAIN_STEP_DIR}"
  COUGHKIT_PYTHON="${COUGHKIT_REFERENCE_PYTHON}"
  COUGHKIT_TRAIN_STEP_PY="${CMAKE_SOURCE_DIR}/tools/reference/train_step.py")

coughkit_add_test(trainer_unit_test SOURCES trainer_unit_test.cpp LIBS coughkit_training)
coughkit_add_test(trainer_step_test SOURCES trainer_step_test.cpp FIXTURES train_step_reference
  LIBS coughkit_training coughkit_trainer_test_support)
coughkit_add_test(trainer_cli_test SOURCES trainer_cli_test.cpp LIBS coughkit_training coughkit_trainer_test_support)
if(TARGET coughkit_torch)
  add_dependencies(trainer_cli_test coughkit_torch coughkit)
endif()
