package pets

type Service struct{}

type other struct{}

func (s *Service) ListPets() {}

func (Service) CreatePet() {}

func (other) DeletePet() {}

func Handler() {}
